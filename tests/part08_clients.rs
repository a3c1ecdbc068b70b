//! Part 8: client 4.0, whose get_poetry returns a Deferred, and the stack
//! seen from inside its callback.

mod common;

use assert_cmd::cargo::cargo_bin_cmd;
use common::{dead_port, ports, three_servers, LIMIT, POEMS};

// ANCHOR: client_4
#[test]
fn client_4_prints_every_poem_and_reports_a_dead_server() {
    let servers = three_servers();
    let dead = dead_port();
    let mut args = ports(&servers);
    args.push(dead.to_string());
    let output = cargo_bin_cmd!("get-poetry-4")
        .args(&args)
        .timeout(LIMIT)
        .output()
        .unwrap();
    // Every poem it could get, and status 1 for the one it could not.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for poem in POEMS {
        assert!(stdout.contains(&std::fs::read_to_string(poem).unwrap()));
    }
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "Poem failed: cannot connect to 127.0.0.1:{dead}: Connection refused (os error 111)\n"
        )
    );
}
// ANCHOR_END: client_4

#[test]
fn the_callback_runs_on_the_stack_of_connection_lost() {
    let servers = three_servers();
    let output = cargo_bin_cmd!("get-poetry-4-stack")
        .arg(servers[1].port.to_string())
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let order = [
        "get_poetry_4_stack::main::{{closure}}",
        "mini_twisted::defer::run",
        "mini_twisted::defer::Trigger<T>::callback",
        "PoetryProtocol as mini_twisted::protocol::Protocol>::connection_lost",
        "mini_twisted::tcp::Connection::finish",
        "mini_twisted::reactor::Reactor::run",
        "get_poetry_4_stack::main",
    ];
    let mut from = 0;
    for frame in order {
        let at = stdout[from..]
            .find(frame)
            .unwrap_or_else(|| panic!("{frame} missing after byte {from}: {stdout}"));
        from += at + frame.len();
    }
}
