"""Fakes shipped with cimedic: a replay of GitHub's REST API built from real material, usable as
an ``httpx`` transport or served over loopback (tests, ``cimedic demo``)."""
