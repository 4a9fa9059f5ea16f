"""``Memory, Context``: declared here (being built for issue 11)."""
