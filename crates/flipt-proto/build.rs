//! Compiles the `.proto` files under `proto/` with protox (pure Rust, no
//! `protoc`) and generates prost messages, tonic clients and servers, and
//! pbjson serde impls (protojson rules) for the public evaluation package.
//! Everything is written to `OUT_DIR`.

use std::{env, path::PathBuf};

use prost::Message as _;

const PROTOS: &[&str] = &[
    "flipt/evaluation/evaluation.proto",
    "flipt/cache/v1/cache.proto",
    "flipt/telemetry/v1/telemetry.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }

    let fds = protox::compile(PROTOS, [&root])?;
    let descriptor_bytes = fds.encode_to_vec();
    std::fs::write(out_dir.join("flipt_descriptor.bin"), &descriptor_bytes)?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Well-known types come from pbjson-types so that Timestamp has
        // protojson (RFC 3339) serde impls for the REST API.
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;

    // REST speaks protojson: camelCase out, camelCase or snake_case in,
    // enums as names, default values emitted, unknown fields ignored.
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .emit_fields()
        .ignore_unknown_fields()
        .build(&[".flipt.evaluation"])?;
    Ok(())
}
