"""Test helpers shared by the SDK's tests (and, later, the proxy's)."""
