//! Topology (in progress).
