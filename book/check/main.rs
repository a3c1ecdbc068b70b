//! The book in a real browser: opens every page of the built book in
//! headless Chromium, twice (from the built files, then under
//! `mdbook serve`), and fails, naming the page, on
//!
//! - an error in the console: `console.error`, an uncaught exception, a
//!   resource that failed to load;
//! - an image that did not decode (`naturalWidth` of 0);
//! - a link that leads nowhere: a file that does not exist, a page the
//!   server does not serve, a `#fragment` that is no element's id on its
//!   page. Links that leave the book (`https://docs.rs/...`) are listed,
//!   not fetched: the book must not need the network.
//!
//! It drives Chromium over the DevTools protocol: one tab, opened with
//! `/json/new`, and JSON messages over its websocket. Screenshots of three
//! pages go under `--screenshots`. `book/check.sh` builds the book, gets
//! Chromium and runs this:
//!
//! ```sh
//! cargo run --example book-check -- --book book --chromium "$(command -v chromium)" \
//!     --mdbook "$(command -v mdbook)" --screenshots target/book-check
//! ```
//!
//! Every wait is bounded, and Chromium and `mdbook serve` are killed (with
//! their process groups) when the check ends, however it ends.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// Check every page of the built book in headless Chromium.
#[derive(Parser)]
struct Args {
    /// The book's root (the folder of book.toml); its pages are read from
    /// the `book` folder in it, as `mdbook build` leaves them.
    #[arg(long)]
    book: PathBuf,
    /// The Chromium to run.
    #[arg(long, default_value = "chromium")]
    chromium: PathBuf,
    /// The mdbook that serves the book for the second pass.
    #[arg(long, default_value = "mdbook")]
    mdbook: PathBuf,
    /// Where the screenshots go.
    #[arg(long, default_value = "target/book-check")]
    screenshots: PathBuf,
}

/// The flags Chromium runs with: no sandbox (we run as root in CI), no
/// GPU, and nothing that reaches for the network on its own.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The pages photographed, with the element to bring into view first.
const SCREENSHOTS: [(&str, Option<&str>, &str); 3] = [
    ("introduction.html", None, "introduction.png"),
    (
        "part04-twisted-poetry.html",
        Some("img[src$='.svg']"),
        "part04-picture.png",
    ),
    (
        "part02-slow-poetry.html",
        Some("pre code"),
        "part02-listing.png",
    ),
];

/// How long a page may take to load, and how long a process may take to
/// start answering.
const PAGE_LOAD: Duration = Duration::from_secs(20);
const STARTUP: Duration = Duration::from_secs(60);

type Result<T> = std::result::Result<T, String>;

/// The process groups and the folder this run started, for the Ctrl-C
/// handler; each guard adds itself here and takes itself off when dropped.
static STARTED: Mutex<(Vec<i32>, Vec<PathBuf>)> = Mutex::new((Vec::new(), Vec::new()));

fn main() -> ExitCode {
    let args = Args::parse();
    // Ctrl-C or a SIGTERM skips every drop: end what we started from here.
    // Chromium and mdbook serve run in process groups of their own, so the
    // terminal's Ctrl-C does not reach them.
    if let Err(error) = ctrlc::set_handler(|| {
        let (groups, folders) = STARTED
            .lock()
            .map(|started| (started.0.clone(), started.1.clone()))
            .unwrap_or_default();
        for group in groups {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        }
        for folder in folders {
            let _ = fs::remove_dir_all(folder);
        }
        eprintln!("book-check: interrupted");
        std::process::exit(130);
    }) {
        eprintln!("book-check: cannot handle Ctrl-C: {error}");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("book-check: {error}");
            ExitCode::from(2)
        }
    }
}

/// Both passes; `Ok(false)` when a page has a problem, `Err` when the
/// check itself could not run.
fn run(args: &Args) -> Result<bool> {
    let built = args.book.join("book");
    let built = fs::canonicalize(&built)
        .map_err(|e| format!("{}: {e} (run `mdbook build` first)", built.display()))?;
    let pages = html_pages(&built)?;
    if pages.len() < 3 {
        return Err(format!(
            "{} holds only {} pages",
            built.display(),
            pages.len()
        ));
    }
    let scratch = Scratch::new()?;
    let browser = Browser::start(&args.chromium, &scratch.path.join("chromium"))?;
    let mut tab = browser.new_tab()?;
    tab.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    )?;
    let mut problems = Vec::new();

    // The first pass: the files as `mdbook build` wrote them. 404.html is
    // left out here: its links and styles start from the site's root
    // (`<base href="/">`), which only a web server has; the second pass
    // checks it.
    let files: Vec<&String> = pages.iter().filter(|p| *p != "404.html").collect();
    println!(
        "== from the built files: {} pages under {}",
        files.len(),
        built.display()
    );
    let file_pass = Pass::File(built.clone());
    let report = check_pages(&mut tab, &file_pass, &files, None)?;
    problems.extend(report.print("file"));

    // The second pass: under `mdbook serve`, which builds into a folder of
    // its own so that the built files stay as they were.
    let port = free_port()?;
    let served_dir = scratch.path.join("served");
    let server = Server::start(&args.mdbook, &args.book, &served_dir, port, &scratch.path)?;
    let served: Vec<&String> = pages.iter().collect();
    println!(
        "== under mdbook serve: {} pages at http://127.0.0.1:{port}/",
        served.len()
    );
    let http_pass = Pass::Http(port);
    let report = check_pages(&mut tab, &http_pass, &served, Some(&args.screenshots))?;
    problems.extend(report.print("serve"));
    drop(server);
    drop(tab);
    drop(browser);
    drop(scratch);

    if problems.is_empty() {
        println!("== the book in a browser: no problems");
        Ok(true)
    } else {
        println!("== the book in a browser: {} problems", problems.len());
        for problem in &problems {
            println!("PROBLEM {problem}");
        }
        Ok(false)
    }
}

/// Every `.html` file under `root`, as a path relative to it with `/`.
fn html_pages(root: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "html") {
                let relative = path.strip_prefix(root).map_err(|e| e.to_string())?;
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Where a pass reads the book from.
enum Pass {
    /// The built files, by `file://` URLs.
    File(PathBuf),
    /// `mdbook serve` on this port of 127.0.0.1.
    Http(u16),
}

/// A page or file of the book, however it was reached: the key under
/// which a page's ids are kept and a link's target is looked up.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
struct Location(String);

impl Pass {
    fn url(&self, page: &str) -> String {
        match self {
            Pass::File(root) => {
                format!("file://{}", encode_path(&root.join(page).to_string_lossy()))
            }
            Pass::Http(port) => format!("http://127.0.0.1:{port}/{}", encode_path(page)),
        }
    }

    /// What a link (an absolute URL, as the browser resolved it) points
    /// at in the book, with its fragment; `None` for a link that leaves it.
    fn locate(&self, url: &str) -> Option<(Location, String)> {
        let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
        let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
        let fragment = decode_percent(fragment);
        let path = match self {
            Pass::File(_) => rest.strip_prefix("file://")?.to_string(),
            Pass::Http(port) => {
                let origin = format!("http://127.0.0.1:{port}");
                let path = rest.strip_prefix(&origin)?;
                if path.is_empty() {
                    "/".to_string()
                } else {
                    path.to_string()
                }
            }
        };
        let mut path = decode_percent(&path);
        if path.ends_with('/') {
            path.push_str("index.html");
        }
        Some((Location(path), fragment))
    }
}

/// Percent-encodes what a URL's path cannot hold as it is.
fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Undoes percent-encoding; a malformed escape stays as it is.
fn decode_percent(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(value)) => {
                out.push(value);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What one pass found.
#[derive(Default)]
struct Report {
    pages: usize,
    images: usize,
    links: usize,
    /// Links that leave the book, with how many times they appear.
    external: BTreeMap<String, usize>,
    /// `page: problem`.
    problems: Vec<String>,
    screenshots: Vec<PathBuf>,
}

impl Report {
    /// Prints the summary and hands back the problems, each with its pass.
    fn print(self, pass: &str) -> Vec<String> {
        let external: usize = self.external.values().sum();
        println!(
            "{} pages, {} images, {} links in the book, {} links out of it ({} distinct, not fetched)",
            self.pages,
            self.images,
            self.links,
            external,
            self.external.len()
        );
        for (url, count) in &self.external {
            println!("  out: {url} ({count}x)");
        }
        for shot in &self.screenshots {
            println!("screenshot: {}", shot.display());
        }
        println!("{} problems", self.problems.len());
        self.problems
            .into_iter()
            .map(|problem| format!("[{pass}] {problem}"))
            .collect()
    }
}

/// What the page tells about itself once loaded: run in the page, after a
/// moment for scripts that run on load (the sidebar, the theme) to settle.
const INSPECT: &str = r#"(async () => {
  await new Promise((done) => setTimeout(done, 150));
  const images = Array.from(document.images);
  return {
    images: images.length,
    undecoded: images
      .filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.getAttribute("src")),
    links: Array.from(document.querySelectorAll("a[href]"))
      .map((a) => [a.getAttribute("href"), a.href]),
    ids: Array.from(document.querySelectorAll("[id]")).map((e) => e.id)
      .concat(Array.from(document.querySelectorAll("a[name]")).map((a) => a.name)),
  };
})()"#;

/// A link found on a page: the page, the link as written, and as resolved.
struct Link {
    page: String,
    written: String,
    resolved: String,
}

/// Opens each page in the tab, then checks every link against what the
/// pages and the files hold.
fn check_pages(
    tab: &mut Tab,
    pass: &Pass,
    pages: &[&String],
    screenshots: Option<&Path>,
) -> Result<Report> {
    let mut report = Report::default();
    let mut ids: HashMap<Location, BTreeSet<String>> = HashMap::new();
    let mut links = Vec::new();
    for page in pages {
        let url = pass.url(page);
        let seen = tab.open(&url)?;
        report.pages += 1;
        for error in seen.errors {
            report.problems.push(format!("{page}: console: {error}"));
        }
        let facts = seen.facts;
        report.images += facts["images"].as_u64().unwrap_or(0) as usize;
        for src in facts["undecoded"].as_array().into_iter().flatten() {
            report.problems.push(format!(
                "{page}: image not decoded: {}",
                src.as_str().unwrap_or("?")
            ));
        }
        for link in facts["links"].as_array().into_iter().flatten() {
            links.push(Link {
                page: page.to_string(),
                written: link[0].as_str().unwrap_or("").to_string(),
                resolved: link[1].as_str().unwrap_or("").to_string(),
            });
        }
        let page_ids = facts["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect();
        if let Some((location, _)) = pass.locate(&url) {
            ids.insert(location, page_ids);
        }
        if let Some(folder) = screenshots {
            for (shot_page, selector, name) in SCREENSHOTS {
                if shot_page == page.as_str() {
                    let path = folder.join(name);
                    tab.screenshot(selector, &path)?;
                    report.screenshots.push(path);
                }
            }
        }
    }
    if let Some(folder) = screenshots {
        if report.screenshots.len() != SCREENSHOTS.len() {
            report.problems.push(format!(
                "a page to photograph is missing: wanted {:?} in {}",
                SCREENSHOTS.map(|(page, _, _)| page),
                folder.display()
            ));
        }
    }

    let mut exists: HashMap<Location, std::result::Result<(), String>> = HashMap::new();
    for link in &links {
        let Some((target, fragment)) = pass.locate(&link.resolved) else {
            if link.resolved.starts_with("http://") || link.resolved.starts_with("https://") {
                *report.external.entry(link.resolved.clone()).or_default() += 1;
            } else if !link.resolved.starts_with("mailto:") {
                report.problems.push(format!(
                    "{}: link {} leads to {}, neither in the book nor on the web",
                    link.page, link.written, link.resolved
                ));
            }
            continue;
        };
        report.links += 1;
        let found = exists
            .entry(target.clone())
            .or_insert_with(|| pass.fetch(&target));
        if let Err(why) = found {
            report
                .problems
                .push(format!("{}: link {}: {why}", link.page, link.written));
            continue;
        }
        if fragment.is_empty() {
            continue;
        }
        match ids.get(&target) {
            Some(page_ids) if page_ids.contains(&fragment) => {}
            Some(_) => report.problems.push(format!(
                "{}: link {}: no element with id \"{fragment}\" on {}",
                link.page, link.written, target.0
            )),
            None => report.problems.push(format!(
                "{}: link {}: a fragment on {}, which is not a page of the book",
                link.page, link.written, target.0
            )),
        }
    }
    Ok(report)
}

impl Pass {
    /// Whether a link's target is there: the file exists, or the server
    /// answers 200.
    fn fetch(&self, target: &Location) -> std::result::Result<(), String> {
        match self {
            Pass::File(_) => {
                let path = Path::new(&target.0);
                if path.is_file() {
                    Ok(())
                } else {
                    Err(format!("{} does not exist", path.display()))
                }
            }
            Pass::Http(port) => match http(*port, "GET", &encode_path(&target.0)) {
                Ok((200, _)) => Ok(()),
                Ok((status, _)) => Err(format!("GET {} answered {status}", target.0)),
                Err(error) => Err(format!("GET {}: {error}", target.0)),
            },
        }
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port`: the status and the body.
fn http(port: u16, method: &str, target: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    // Read the head, then as much body as Content-Length says: not every
    // server closes the connection when asked to (Chromium's does not).
    let mut answer = Vec::new();
    let mut buffer = [0; 8192];
    let head_end = loop {
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream
            .read(&mut buffer)
            .map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            return Err("the connection closed before the answer's head ended".into());
        }
        answer.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:?}", head.lines().next()))?;
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if let Some(length) = length {
        while answer.len() < head_end + length {
            let n = stream
                .read(&mut buffer)
                .map_err(|e| format!("reading the body: {e}"))?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
        }
    }
    // Without a length, the head is all a caller needs (a status).
    Ok((
        status,
        String::from_utf8_lossy(&answer[head_end..]).into_owned(),
    ))
}

/// A free port on 127.0.0.1, for `mdbook serve` (which cannot take 0).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok(port)
}

/// A folder of our own under the system's temporary folder, removed when
/// dropped (after the processes that use it, which are dropped first).
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("book-check-{}-{nanos}", std::process::id()));
        fs::create_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Ok(mut started) = STARTED.lock() {
            started.1.push(path.clone());
        }
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut started) = STARTED.lock() {
            started.1.retain(|path| *path != self.path);
        }
        // Chromium's last writes may race the removal: try a few times.
        for _ in 0..5 {
            if fs::remove_dir_all(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
        eprintln!("book-check: could not remove {}", self.path.display());
    }
}

/// A child started in a process group of its own, ended with that group
/// when dropped: SIGTERM, a bounded wait, then SIGKILL.
struct Spawned {
    child: Child,
    name: &'static str,
}

impl Spawned {
    fn start(name: &'static str, command: &mut Command) -> Result<Spawned> {
        use std::os::unix::process::CommandExt;
        let child = command
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        if let (Ok(mut started), Ok(pid)) = (STARTED.lock(), i32::try_from(child.id())) {
            started.0.push(pid);
        }
        Ok(Spawned { child, name })
    }

    /// Fails if the child has exited.
    fn alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited: {status}", self.name)),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return;
        };
        let group = Pid::from_raw(pid);
        // The group outlives its leader: signal it even if the leader is gone.
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = killpg(group, Signal::SIGKILL);
        // Off the list before the leader is reaped and its pid can be reused.
        if let Ok(mut started) = STARTED.lock() {
            started.0.retain(|started| *started != pid);
        }
        let _ = self.child.wait();
    }
}

/// `mdbook serve` on 127.0.0.1:`port`, answering.
struct Server {
    _process: Spawned,
}

impl Server {
    fn start(mdbook: &Path, book: &Path, dest: &Path, port: u16, logs: &Path) -> Result<Server> {
        let log = fs::File::create(logs.join("mdbook.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut process = Spawned::start(
            "mdbook serve",
            Command::new(mdbook)
                .arg("serve")
                .arg(book)
                .arg("--dest-dir")
                .arg(dest)
                .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2),
        )?;
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok((200, _)) = http(port, "GET", "/index.html") {
                return Ok(Server { _process: process });
            }
            let log = fs::read_to_string(logs.join("mdbook.log")).unwrap_or_default();
            process.alive().map_err(|e| format!("{e}\n{log}"))?;
            if Instant::now() > deadline {
                return Err(format!("mdbook serve did not answer in {STARTUP:?}\n{log}"));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Headless Chromium, with its DevTools port.
struct Browser {
    /// Ended, with its helper processes, when the browser is dropped.
    _process: Spawned,
    port: u16,
}

impl Browser {
    fn start(chromium: &Path, profile: &Path) -> Result<Browser> {
        fs::create_dir(profile).map_err(|e| format!("{}: {e}", profile.display()))?;
        let log_path = profile.with_extension("log");
        let log = fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut process = Spawned::start(
            "chromium",
            Command::new(chromium)
                .args(CHROMIUM_FLAGS)
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("--remote-debugging-port=0")
                .arg("about:blank")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2),
        )?;
        // Chromium writes the port it chose, then the browser's path, here.
        let active = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + STARTUP;
        let port = loop {
            let text = fs::read_to_string(&active).unwrap_or_default();
            if let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                break port;
            }
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            process.alive().map_err(|e| format!("{e}\n{log}"))?;
            if Instant::now() > deadline {
                return Err(format!(
                    "chromium wrote no DevToolsActivePort in {STARTUP:?}\n{log}"
                ));
            }
            thread::sleep(Duration::from_millis(100));
        };
        Ok(Browser {
            _process: process,
            port,
        })
    }

    /// A new tab, with the events this check listens to turned on.
    fn new_tab(&self) -> Result<Tab> {
        let (status, body) = http(self.port, "PUT", "/json/new?about:blank")?;
        if status != 200 {
            return Err(format!("/json/new answered {status}: {body}"));
        }
        let target: Value = serde_json::from_str(&body).map_err(|e| format!("/json/new: {e}"))?;
        let url = target["webSocketDebuggerUrl"]
            .as_str()
            .ok_or_else(|| format!("/json/new gave no websocket: {body}"))?;
        let stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        // Short reads, so that every wait below checks its own deadline.
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(10))))
            .map_err(|e| e.to_string())?;
        let (socket, _) =
            tungstenite::client(url, stream).map_err(|e| format!("websocket {url}: {e}"))?;
        let mut tab = Tab {
            socket,
            next_id: 1,
            events: VecDeque::new(),
        };
        for domain in ["Runtime", "Log", "Page"] {
            tab.call(&format!("{domain}.enable"), json!({}))?;
        }
        Ok(tab)
    }
}

/// One tab, spoken to over the DevTools protocol.
struct Tab {
    socket: WebSocket<TcpStream>,
    next_id: u64,
    /// Events read while waiting for an answer, in order.
    events: VecDeque<Value>,
}

/// What opening a page found.
struct Seen {
    errors: Vec<String>,
    facts: Value,
}

impl Tab {
    /// The next message, or `None` once `deadline` passes.
    fn read(&mut self, deadline: Instant) -> Result<Option<Value>> {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str())
                        .map(Some)
                        .map_err(|e| format!("DevTools sent bad JSON: {e}"))
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(format!("DevTools connection: {e}")),
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
        }
    }

    /// Calls a method and waits (bounded) for its answer.
    fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::text(message))
            .map_err(|e| format!("{method}: {e}"))?;
        let deadline = Instant::now() + PAGE_LOAD;
        loop {
            let Some(message) = self.read(deadline)? else {
                return Err(format!("{method}: no answer in {PAGE_LOAD:?}"));
            };
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    return Err(format!("{method}: {error}"));
                }
                return Ok(message["result"].clone());
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    /// Opens `url`, waits for its load event, and reports what went wrong
    /// and what the page holds.
    fn open(&mut self, url: &str) -> Result<Seen> {
        // Whatever the last page left behind belongs to it, not to this one.
        while self.read(Instant::now())?.is_some() {}
        self.events.clear();
        let mut errors = Vec::new();
        let navigated = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(error) = navigated["errorText"].as_str() {
            errors.push(format!("navigation failed: {error}"));
        }
        let deadline = Instant::now() + PAGE_LOAD;
        let mut loaded = false;
        while !loaded {
            let event = match self.events.pop_front() {
                Some(event) => event,
                None => match self.read(deadline)? {
                    Some(event) => event,
                    None => {
                        errors.push(format!("no load event in {PAGE_LOAD:?}"));
                        break;
                    }
                },
            };
            loaded = event["method"] == "Page.loadEventFired";
            errors.extend(console_error(&event));
        }
        let answer = self.call(
            "Runtime.evaluate",
            json!({"expression": INSPECT, "awaitPromise": true, "returnByValue": true}),
        )?;
        if let Some(details) = answer.get("exceptionDetails") {
            return Err(format!("inspecting {url} failed: {details}"));
        }
        // What arrived while the page was inspected counts too.
        let events: Vec<Value> = self.events.drain(..).collect();
        errors.extend(events.iter().filter_map(console_error));
        Ok(Seen {
            errors,
            facts: answer["result"]["value"].clone(),
        })
    }

    /// A PNG of the viewport, with `selector`'s first element (if any) in
    /// the middle of it.
    fn screenshot(&mut self, selector: Option<&str>, path: &Path) -> Result<()> {
        if let Some(selector) = selector {
            let expression = format!(
                "(async () => {{ const e = document.querySelector({}); \
                 if (!e) return false; e.scrollIntoView({{block: 'center'}}); \
                 await new Promise((done) => setTimeout(done, 150)); return true; }})()",
                serde_json::to_string(selector).map_err(|e| e.to_string())?
            );
            let found = self.call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )?;
            if found["result"]["value"] != true {
                return Err(format!(
                    "no {selector} to photograph for {}",
                    path.display()
                ));
            }
        }
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}))?;
        let data = shot["data"]
            .as_str()
            .ok_or("Page.captureScreenshot gave no data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("screenshot: {e}"))?;
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        }
        fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The error an event reports, if it reports one: an uncaught exception,
/// `console.error`, or a log entry of level error (a failed load among
/// them).
fn console_error(event: &Value) -> Option<String> {
    let params = &event["params"];
    match event["method"].as_str()? {
        "Runtime.exceptionThrown" => {
            let details = &params["exceptionDetails"];
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("an exception");
            Some(format!("uncaught {text}"))
        }
        "Runtime.consoleAPICalled" if params["type"] == "error" || params["type"] == "assert" => {
            let words: Vec<String> = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|arg| match arg.get("value") {
                    Some(Value::String(text)) => text.clone(),
                    Some(value) => value.to_string(),
                    None => arg["description"].as_str().unwrap_or("?").to_string(),
                })
                .collect();
            Some(format!(
                "console.{}: {}",
                params["type"].as_str()?,
                words.join(" ")
            ))
        }
        // A page with no icon of its own (toc.html, mdBook's list of
        // chapters for readers without JavaScript) makes the browser guess
        // /favicon.ico: the browser's request, not a link of the book.
        "Log.entryAdded"
            if params["entry"]["level"] == "error"
                && !params["entry"]["url"]
                    .as_str()
                    .is_some_and(|url| url.ends_with("/favicon.ico")) =>
        {
            let entry = &params["entry"];
            let url = entry["url"].as_str().unwrap_or("");
            Some(
                format!("{} {url}", entry["text"].as_str().unwrap_or("an error"))
                    .trim()
                    .to_string(),
            )
        }
        _ => None,
    }
}
