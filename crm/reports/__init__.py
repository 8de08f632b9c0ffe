"""The quarterly adoption report for the board and funders."""
