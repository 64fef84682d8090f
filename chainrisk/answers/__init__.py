"""Answers: lookup, screening of bank files, and fileable reports, read from a scoring run."""
