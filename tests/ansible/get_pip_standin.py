"""Stand-in for pip's get-pip.py, which ansible-test downloads to bootstrap pip into the empty
virtual environments it runs sanity tests in. That download comes from a host outside the
package registries this project can reach; ansible-test's own message says to save the script
by hand under ~/.ansible/test/cache/. This does the same job offline: the interpreter's
bundled pip (ensurepip), then pip installs what ansible-test asked for (its pinned pip).
"""

import subprocess
import sys

# get-pip.py's own options, which `pip install` does not know.
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in its own process, and
# the pip install below needs the machine's pip configuration (index, certificates).
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
