//! shared test harness (under construction)
