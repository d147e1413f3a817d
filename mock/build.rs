// The specs folder is embedded with include_dir!; make edits to it rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=../specs");
}
