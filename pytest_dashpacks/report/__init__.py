"""Reporting: the stability report built from test reports, its terminal, HTML and history forms, ledger verdicts and pinning."""
