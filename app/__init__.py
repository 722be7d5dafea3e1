"""Stancemap: who stands where, every position backed by a verbatim quote."""
