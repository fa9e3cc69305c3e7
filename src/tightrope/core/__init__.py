"""Pure core: model, validation, discovery, plan, verification. No I/O."""
