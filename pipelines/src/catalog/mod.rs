//! Bindings of pure operators to topics and codecs, one module per pipeline.

pub mod accounts;
pub mod matching;
pub mod passthrough;
pub mod portfolio;
pub mod totals;

/// `<prefix><name>` with a `'static` lifetime, as [`crate::spec::Pipeline`] wants topic and
/// group names. Leaked: bindings are built once per process (or per benchmark round).
pub(crate) fn prefixed(prefix: &str, name: &str) -> &'static str {
    Box::leak(format!("{prefix}{name}").into_boxed_str())
}

/// A `'static` list of names (a pipeline's inputs). Leaked like [`prefixed`].
pub(crate) fn name_list(names: Vec<&'static str>) -> &'static [&'static str] {
    Box::leak(names.into_boxed_slice())
}
