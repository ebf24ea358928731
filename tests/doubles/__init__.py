"""Local servers speaking the real wire protocol of networks the tests cannot reach (DESIGN.md section 7)."""
