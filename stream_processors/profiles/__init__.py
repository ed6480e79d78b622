"""Customer profiles: each person's figures, kept by the per-person stage (``people/``) as their events come."""
