"""Side effects: re-run failed jobs, notify, open issues. Dry-run by default; every call is
audited by the service that decides it. Nothing here decides *whether* to act: policy does
(:mod:`cimedic.services.remediate`)."""
