//! Tests the sandbox flags of the socklab binary (written next).
