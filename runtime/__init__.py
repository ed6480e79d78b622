"""What every Beacon process needs at run time: settings, structured logs, metrics, warehouse client."""
