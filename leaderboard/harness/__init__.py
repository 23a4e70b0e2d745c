"""Runs agents on worlds: protocol, sandbox and meter, compute clock, runner, backends; imports worlds, scoring."""
