//! The stage of clients 6, 7 and 8 (Parts 13, 17 and 18): the real
//! transform server and two quick poetry servers, and what the clients
//! print when they get both poems.

use std::process::Output;

use super::{program, Background, SlowServer, LIMIT};

/// The two poems, one per poetry server.
pub const TWO_POEMS: [&str; 2] = ["poetry/fascination.txt", "poetry/science.txt"];

/// The real transform server on a free port.
pub fn transform_server() -> (Background, u16) {
    let mut server = Background::start(&program("transformedpoetry"), &["--port", "0"]);
    let port = super::port_of(&server.next_line());
    (server, port)
}

/// Two quick poetry servers, one for each of [`TWO_POEMS`].
pub fn poetry_servers() -> Vec<SlowServer> {
    TWO_POEMS
        .iter()
        .map(|poem| SlowServer::quick(poem, 200))
        .collect()
}

/// The two poems as their files have them.
pub fn originals() -> Vec<String> {
    TWO_POEMS
        .iter()
        .map(|poem| std::fs::read_to_string(poem).unwrap())
        .collect()
}

/// Runs the client `name` (its first port the transform server's), bounded.
pub fn run_client(name: &str, ports: &[u16]) -> Output {
    let args: Vec<String> = ports.iter().map(u16::to_string).collect();
    assert_cmd::Command::new(program(name))
        .args(&args)
        .timeout(LIMIT)
        .output()
        .unwrap()
}

/// Output as text: the clients print UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("the client prints UTF-8")
}

/// `stdout` is the two poems, in either order of completion: each one
/// followed by the blank line `println!` adds.
pub fn assert_poems(stdout: &str, poems: &[String]) {
    let printed = |order: &[&String]| order.iter().map(|poem| format!("{poem}\n")).collect();
    let ours: Vec<&String> = poems.iter().collect();
    let reversed: Vec<&String> = poems.iter().rev().collect();
    let expected: [String; 2] = [printed(&ours), printed(&reversed)];
    assert!(
        expected.contains(&stdout.to_string()),
        "not the poems, in either order: {stdout:?}"
    );
}
