"""Tests of the local NIM emulator (nim_emulator)."""
