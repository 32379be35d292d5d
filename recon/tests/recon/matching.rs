//! Matching engine tests (being written).
