//! `topology`: any text through the RON topology compiler, with the workspace's real
//! plugins described and their configs checked. Compiling never panics; a refusal
//! always says why, each diagnostic points inside the file, and the report renders.

use switchyard_runtime::topology::{self, SourceFile};

use crate::catalog::Plugins;

pub fn topology(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let src = SourceFile::new("fuzz.ron", text);
    let Err(errors) = topology::compile(&src, &Plugins) else {
        return;
    };
    assert!(!errors.is_empty(), "refused without a reason");
    let lines = text.split('\n').count() as u32;
    for d in errors.iter() {
        assert!(!d.message.is_empty());
        assert!(
            d.line <= lines,
            "diagnostic at line {} of {lines}: {}",
            d.line,
            d.message
        );
        if let Some(span) = &d.span {
            assert!(
                span.start <= span.end && span.end <= text.len(),
                "span {span:?}"
            );
        }
    }
    let report = topology::render(&errors, false);
    assert!(!report.is_empty());
}
