"""The customer journey in the stream: each person's furthest stage, kept like a funnel."""
