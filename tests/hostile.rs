//! Tests that hostile guests are contained (written next).
