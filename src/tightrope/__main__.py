from tightrope.cli.main import main

raise SystemExit(main())
