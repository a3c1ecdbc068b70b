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

/// What every client of this stage does with the transform server and both
/// poetry servers up: both poems, lowered, exit 0, nothing on stderr.
pub fn assert_lowers_both_poems(client: &str) {
    let (_transform, xform) = transform_server();
    let servers = poetry_servers();
    let output = run_client(client, &[xform, servers[0].port, servers[1].port]);
    assert_eq!(output.status.code(), Some(0), "{client}: {output:?}");
    assert_eq!(text(&output.stderr), "", "{client}");
    let lowered: Vec<String> = originals().iter().map(|p| p.to_lowercase()).collect();
    assert_poems(&text(&output.stdout), &lowered);
}

/// With fewer than two addresses (a transform server and a poetry server)
/// there is nothing to do: the client prints its help, which gives its
/// exit status, and exits 0.
pub fn assert_prints_help_with_too_few_addresses(client: &str) {
    for args in [&[][..], &["10001"][..]] {
        let output = assert_cmd::Command::new(program(client))
            .args(args)
            .timeout(LIMIT)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        let stdout = text(&output.stdout);
        assert!(stdout.contains(&format!("Usage: {client}")), "{stdout}");
        assert!(
            stdout.contains("Exits with status 1 if any poem could not be fetched."),
            "{stdout}"
        );
        assert_eq!(text(&output.stderr), "", "{args:?}");
    }
}

/// Clients 7 and 8 with the transform server down: the original poems,
/// exit 0, and one line per poem on stderr saying why its transform failed.
pub fn assert_says_why_each_transform_failed(client: &str) {
    let servers = poetry_servers();
    let dead = super::dead_port();
    let output = run_client(client, &[dead, servers[0].port, servers[1].port]);
    assert_eq!(output.status.code(), Some(0), "{client}: {output:?}");
    let stderr = text(&output.stderr);
    let refused = format!("Cummingsify failed! cannot connect to 127.0.0.1:{dead}: ");
    let reports: Vec<&str> = stderr.lines().collect();
    assert_eq!(reports.len(), 2, "{stderr}");
    for report in reports {
        assert!(report.starts_with(&refused), "{report}");
        assert!(report.contains("refused"), "{report}");
    }
    assert_poems(&text(&output.stdout), &originals());
}
