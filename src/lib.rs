//! Root package of the workspace: its only targets are the integration tests in `tests/`.
