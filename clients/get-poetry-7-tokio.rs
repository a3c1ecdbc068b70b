//! Part 22: client 7.0 written the way a tokio user would write it. The
//! twin of `get-poetry-7`, for reading side by side and for measuring.
//!
//! The same command line, the same lines on stdout and stderr, the same
//! exit status: the first address is the transform server, the others
//! poetry servers; each poem is printed, cummingsified, as soon as it is
//! ready; a download that fails is reported and counts against the exit
//! status; a transform that fails is reported and the original poem is
//! printed instead.
//!
//! What changes is underneath. There are no Deferreds, protocols or
//! factories: `get_poetry` and `TransformProxy::xform` are `async fn`s that
//! own their socket and read from it in a loop, and the errors are plain
//! `io::Error`s whose messages are the ones our framework's failures give.
//! One thread (`current_thread`), like `get-poetry-7`'s reactor, one task
//! per poem (`JoinSet::spawn`), and the main task counts the tasks as they
//! end (`join_next`) where client 7 counted its Deferreds as they fired.
//!
//! ```text
//! cargo run --bin get-poetry-7-tokio -- 10001 10002 10003
//! ```

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser};
use mini_twisted::netstring::{encode, Decoder};
use mini_twisted::poetry::{exit_status, resolve, Address, Checked, EXIT_STATUS_HELP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Get Poetry Now! Client 7.0 on tokio: an async function per poem.
#[derive(Parser)]
#[command(name = "get-poetry-7-tokio", after_help = EXIT_STATUS_HELP)]
struct Options {
    /// The transform server, as [host:]port; the host defaults to 127.0.0.1
    #[arg(value_name = "XFORM-ADDR", value_parser = Checked(str::parse::<Address>))]
    transform: Option<Address>,

    /// The servers to get poetry from, as [host:]port
    #[arg(value_name = "ADDR", value_parser = Checked(str::parse::<Address>))]
    servers: Vec<Address>,
}

/// `error`, with `what` said before it: the same kind, a message that
/// tells the reader which step failed.
fn context(what: impl std::fmt::Display, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}

/// Connects to `address`. The name is looked up as our reactor looks it up
/// (IPv4 first, on this thread); tokio's own lookup, `connect((host,
/// port))`, would hand it to a thread of its blocking pool, and the two
/// clients would no longer both run on one thread.
async fn connect(address: &Address) -> io::Result<TcpStream> {
    let connected = match resolve(&address.host, address.port) {
        Ok(socket_address) => TcpStream::connect(socket_address).await,
        Err(error) => Err(error),
    };
    let destination = format!("{}:{}", address.host, address.port);
    connected.map_err(|error| context(format_args!("cannot connect to {destination}"), error))
}

// ANCHOR: get_poetry
/// Downloads the poem at `address`: everything the server sends until it
/// closes the connection. A refused connection or a reset is the error.
pub async fn get_poetry(address: &Address) -> io::Result<String> {
    let mut socket = connect(address).await?;
    let mut poem = Vec::new();
    socket
        .read_to_end(&mut poem)
        .await
        .map_err(|error| context("the connection was lost", error))?;
    Ok(String::from_utf8_lossy(&poem).into_owned())
}
// ANCHOR_END: get_poetry

// ANCHOR: proxy
/// The transform server: one method that sends a request and waits for
/// the one reply, in netstrings, over a connection of its own.
pub struct TransformProxy {
    pub address: Address,
}

impl TransformProxy {
    /// Asks the server to apply the transform `name` to `poem`: the
    /// transformed poem, or what prevented it.
    pub async fn xform(&self, name: &str, poem: &str) -> io::Result<String> {
        let lost = |error| context("the connection was lost", error);
        let mut socket = connect(&self.address).await?;
        let request = encode(format!("{name}.{poem}").as_bytes());
        socket.write_all(&request).await.map_err(lost)?;
        let mut decoder = Decoder::new();
        let mut chunk = [0; 4096];
        loop {
            let read = socket.read(&mut chunk).await.map_err(lost)?;
            if read == 0 {
                let silence = "the transform server closed the connection without a reply";
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, silence));
            }
            // The first string is the reply; a broken frame ends it all.
            if let Some(reply) = decoder.feed(&chunk[..read]).next() {
                let reply =
                    reply.map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                return String::from_utf8(reply.to_vec())
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error));
            }
        }
    }
}
// ANCHOR_END: proxy

// ANCHOR: get_transformed_poem
/// Downloads the poem at `address` and has the transform server
/// cummingsify it. Ends with the poem (the original, if the transform
/// failed), or with the error of the download.
pub async fn get_transformed_poem(
    proxy: Arc<TransformProxy>,
    address: Address,
) -> io::Result<String> {
    let poem = match get_poetry(&address).await {
        Ok(poem) => poem,
        Err(error) => {
            eprintln!("The poem download failed: {error}");
            return Err(error);
        }
    };
    let poem = match proxy.xform("cummingsify", &poem).await {
        Ok(lowered) => lowered,
        Err(error) => {
            eprintln!("Cummingsify failed! {error}");
            poem
        }
    };
    Ok(poem)
}
// ANCHOR_END: get_transformed_poem

// ANCHOR: main
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = Options::parse();
    let (Some(transform), false) = (options.transform, options.servers.is_empty()) else {
        // A transform server and at least one poetry server, or nothing to do.
        let _ = Options::command().print_help();
        return ExitCode::SUCCESS;
    };
    mini_twisted::log::init();
    let proxy = Arc::new(TransformProxy { address: transform });

    // One task per poem; each prints its poem as soon as it is ready.
    let mut tasks = JoinSet::new();
    for address in options.servers {
        let task = get_transformed_poem(Arc::clone(&proxy), address);
        tasks.spawn(async move {
            let poem = task.await?;
            println!("{poem}");
            Ok::<(), io::Error>(())
        });
    }
    // Counts every poem as its task ends, whichever way it ended; a failed
    // one has been reported already. The loop ends after the last.
    let mut failed = false;
    while let Some(ended) = tasks.join_next().await {
        failed = failed || !matches!(ended, Ok(Ok(())));
    }
    exit_status(!failed)
}
// ANCHOR_END: main
