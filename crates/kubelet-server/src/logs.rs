//! `/containerLogs` and `/logs/`.
