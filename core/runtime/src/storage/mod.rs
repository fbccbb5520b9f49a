//! Storage capability (in progress).
