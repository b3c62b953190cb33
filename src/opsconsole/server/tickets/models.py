"""Tables of tickets."""
