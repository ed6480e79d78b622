"""Funnels in the stream: each person's furthest step, equal to ClickHouse's windowFunnel over their events."""
