//! Reading `--suite FILE.toml` into the schema's [`Suite`], with errors that name the file, the
//! line and the field.

use std::path::Path;

use anyhow::Context as _;
use harness::schema::Suite;

pub fn load(path: &Path) -> anyhow::Result<Suite> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the suite {}; pass the path of a TOML suite file", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!("{} is not a valid suite (fields: see README, `Suites`; unknown fields are refused)", path.display())
    })
}
