"""Loading YAML into the model: packs, boards, connectors, regressions and the ledger; never SQL."""
