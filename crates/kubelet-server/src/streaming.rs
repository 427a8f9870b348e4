//! `/exec`, `/attach`, `/portForward` and `/run`.
