//! The statement matching engine (being written).
