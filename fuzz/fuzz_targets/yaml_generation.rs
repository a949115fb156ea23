//! The generation YAML loader (`gryt::yaml`, src/yaml.rs in the gryt library) and the
//! contract rules it feeds (gryt-core's `GenerationSpec::validate`).
//!
//! Properties: no input panics; a contract that loads and validates renders back to YAML
//! that loads to the same contract (gryt writes contracts with `render_generation` and reads
//! them back with `parse_generation`). Config files go through the same YAML layer.
#![no_main]

use gryt::yaml;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yaml");
    if let Ok(spec) = yaml::parse_generation(path, text) {
        if spec.validate().is_ok() {
            let rendered = yaml::render_generation(&spec).expect("a valid contract renders");
            let again = yaml::parse_generation(path, &rendered).unwrap_or_else(|e| {
                panic!("rendered contract does not load: {}\n{rendered}", e.message)
            });
            assert_eq!(again, spec, "round trip changed the contract:\n{rendered}");
        }
    }
    if let Ok(map) = yaml::parse_config(path, text) {
        let rendered = yaml::render_config(&map).expect("a config renders");
        let again = yaml::parse_config(path, &rendered)
            .unwrap_or_else(|e| panic!("rendered config does not load: {}\n{rendered}", e.message));
        assert_eq!(again, map, "round trip changed the config:\n{rendered}");
    }
});
