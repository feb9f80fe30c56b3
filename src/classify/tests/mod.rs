//! Tests of the classifier, one file per statement family.

mod probe;
