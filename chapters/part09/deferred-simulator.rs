//! Part 9: the Deferred simulator. Type a chain of callback/errback pairs;
//! see how it fires, both ways.
//!
//! Each pair is two of `return VALUE`, `fail VALUE` and `passthru`
//! (abbreviated as much as you like: `r`, `f`, `p`). A blank line ends the
//! list. The program then draws the chain, and next to it the path that
//! `callback(initial)` takes through it and the path that
//! `errback(initial*)` takes (`value*` is a failure holding `value`).
//!
//! The paths are not worked out by a model of the rules: the program builds
//! a real `Deferred` whose stages draw themselves as they run, fires it, and
//! lets the framework decide which stage runs. What you see is what
//! `mini_twisted::defer` does.
//!
//! ```text
//! cargo run --bin deferred-simulator
//! cargo run --bin deferred-simulator -- --narrow
//! ```

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::rc::Rc;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use mini_twisted::poetry::excerpt;
use mini_twisted::{deferred, Failure};

/// A Deferred simulator: shows how a chain of callbacks and errbacks fires.
#[derive(Parser)]
#[command(name = "deferred-simulator")]
struct Options {
    /// Draw the chain and the two firings one below the other
    #[arg(long)]
    narrow: bool,

    #[arg(hide = true)]
    extra: Vec<String>,
}

const INSTRUCTIONS: &str = "\
Type the callback/errback pairs of a Deferred's chain, one pair a line:

  CALLBACK ERRBACK

where each of CALLBACK and ERRBACK is one of:

  return VALUE    the stage returns VALUE
  fail VALUE      the stage fails with VALUE
  passthru        the stage passes on what it got

VALUE is one word of at most 6 characters (letters and digits read best).
The commands may be shortened to any beginning: r, f, p, ret, pass ...

For example:

  r good f bad    callback returns 'good', errback fails with 'bad'
  f googly p      callback fails with 'googly', errback passes its
                  failure on

A blank line ends the list. The chain is then drawn beside the paths that
d.callback(initial) and d.errback(initial*) take through it. A value with
a '*' is a failure holding that value: value* means Failure(value).

The drawing is wide: widen your terminal.
";

// ---------------------------------------------------------------------------
// The screen: characters placed anywhere, printed as a rectangle.
// ---------------------------------------------------------------------------

/// A sparse grid of characters. Printed, every row is padded with spaces
/// to the width of the widest, as a terminal screen would be.
#[derive(Default)]
struct Screen {
    rows: Vec<Vec<Option<char>>>,
}

impl Screen {
    fn put(&mut self, x: usize, y: usize, c: char) {
        if self.rows.len() <= y {
            self.rows.resize(y + 1, Vec::new());
        }
        let row = &mut self.rows[y];
        if row.len() <= x {
            row.resize(x + 1, None);
        }
        row[x] = Some(c);
    }

    fn text(&mut self, x: usize, y: usize, text: &str) {
        for (i, c) in text.chars().enumerate() {
            self.put(x + i, y, c);
        }
    }

    fn horizontal(&mut self, x: usize, y: usize, width: usize) {
        for i in 0..width {
            self.put(x + i, y, '-');
        }
    }

    /// A vertical line, ending in an arrow head `\|/` if `arrow`.
    fn vertical(&mut self, x: usize, y: usize, height: usize, arrow: bool) {
        for i in 0..height {
            self.put(x, y + i, '|');
        }
        if arrow && height > 0 {
            self.put(x - 1, y + height - 1, '\\');
            self.put(x + 1, y + height - 1, '/');
        }
    }

    fn render(&self) -> String {
        let width = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = String::new();
        for row in &self.rows {
            for x in 0..width {
                out.push(row.get(x).copied().flatten().unwrap_or(' '));
            }
            out.push('\n');
        }
        out
    }
}

/// `text` centred in `width` columns, padded with spaces on both sides; an
/// odd space goes to the right, unless `width` is odd too (Python's rule,
/// which the series' drawings follow).
fn center(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        return text.to_string();
    }
    let margin = width - len;
    let left = margin / 2 + (margin & width & 1);
    format!("{}{text}{}", " ".repeat(left), " ".repeat(margin - left))
}

// ---------------------------------------------------------------------------
// One stage: what it does, and how it is drawn.
// ---------------------------------------------------------------------------

/// The failure a `fail VALUE` stage makes (and `errback(initial*)` starts
/// with): drawn as `VALUE*`.
#[derive(Debug)]
struct Fails(String);

impl fmt::Display for Fails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Error for Fails {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Stage {
    Return(String),
    Fail(String),
    Passthru,
}

/// The width of every box: room for a 6-character value with its `*`, and
/// for the longest caption, `return ` and the value.
const BOX_WIDTH: usize = "0123456*".len() + "return ".len() + 3;
const BOX_HEIGHT: usize = 5;
/// The rows between two boxes, where the arrows go.
const GAP: usize = 3;

impl Stage {
    /// What the stage does with what it got.
    fn run(&self, input: Result<String, Failure>) -> Result<String, Failure> {
        match self {
            Stage::Return(value) => Ok(value.clone()),
            Stage::Fail(value) => Err(Failure::without_backtrace(Fails(value.clone()))),
            Stage::Passthru => input,
        }
    }

    fn caption(&self) -> String {
        match self {
            Stage::Return(value) => format!("return {value}"),
            Stage::Fail(value) => format!("fail {value}"),
            Stage::Passthru => "passthru".to_string(),
        }
    }

    /// A box with the stage's caption: the chain as it is written.
    fn draw_passive(&self, screen: &mut Screen, x: usize, y: usize) {
        draw_box(screen, x, y);
        screen.text(x + 1, y + 2, &center(&self.caption(), BOX_WIDTH - 2));
    }
}

fn draw_box(screen: &mut Screen, x: usize, y: usize) {
    screen.horizontal(x, y, BOX_WIDTH);
    screen.horizontal(x, y + BOX_HEIGHT - 1, BOX_WIDTH);
    screen.vertical(x, y + 1, 3, false);
    screen.vertical(x + BOX_WIDTH - 1, y + 1, 3, false);
}

/// A value as the drawings show it: a failure gets a `*`.
fn shown(result: &Result<String, Failure>) -> String {
    match result {
        Ok(value) => value.clone(),
        Err(failure) => match failure.downcast_ref::<Fails>() {
            Some(Fails(value)) => format!("{value}*"),
            None => format!("{failure}*"),
        },
    }
}

/// The chain the user typed.
struct Chain {
    pairs: Vec<(Stage, Stage)>,
}

impl Chain {
    /// Two boxes and the gap between them.
    const WIDTH: usize = BOX_WIDTH * 2 + 2;

    fn height(&self) -> usize {
        BOX_HEIGHT * self.pairs.len() + GAP * (self.pairs.len() - 1)
    }

    /// The chain as written: one row of two boxes per pair.
    fn draw(&self, screen: &mut Screen, x: usize, mut y: usize) {
        for (callback, errback) in &self.pairs {
            callback.draw_passive(screen, x, y);
            errback.draw_passive(screen, x + BOX_WIDTH + 2, y);
            y += BOX_HEIGHT + GAP;
        }
    }

    /// The height of a firing's drawing: the chain, the first value with
    /// its arrow above it, the last value with its arrow below.
    fn fired_height(&self) -> usize {
        self.height() + 8
    }
}

// ---------------------------------------------------------------------------
// A firing, drawn by a real Deferred as it runs.
// ---------------------------------------------------------------------------

/// Where the drawing of a firing has got to.
struct Pen {
    screen: Screen,
    /// The left edge of the last box drawn (callback or errback column).
    last_x: usize,
    /// The top of the next box.
    next_y: usize,
}

impl Pen {
    fn empty() -> Pen {
        Pen {
            screen: Screen::default(),
            last_x: 0,
            next_y: 0,
        }
    }
}

/// Where the two columns of a firing are, for a drawing whose left edge
/// is at `x`.
#[derive(Clone, Copy)]
struct Columns {
    callback_x: usize,
    errback_x: usize,
    callback_middle: usize,
    errback_middle: usize,
}

impl Columns {
    fn at(x: usize) -> Columns {
        let errback_x = x + BOX_WIDTH + 2;
        Columns {
            callback_x: x,
            errback_x,
            callback_middle: x + BOX_WIDTH / 2 - 1,
            errback_middle: errback_x + BOX_WIDTH / 2 - 1,
        }
    }

    /// The arrow from the last box (or the first value) to the box at
    /// `to_x`: straight down on the same side, or across with a jump.
    fn connect(&self, pen: &mut Pen, to_x: usize) {
        let y = pen.next_y;
        if pen.last_x == to_x {
            let middle = to_x + BOX_WIDTH / 2 - 1;
            pen.screen.vertical(middle, y - 3, 3, true);
            return;
        }
        let (from, to) = if pen.last_x < to_x {
            (self.callback_middle, self.errback_middle)
        } else {
            (self.errback_middle, self.callback_middle)
        };
        pen.screen.vertical(from, y - 3, 2, false);
        pen.screen.vertical(to, y - 2, 2, true);
        let width = self.errback_middle - self.callback_middle - 1;
        pen.screen
            .horizontal(self.callback_middle + 1, y - 2, width);
    }

    /// A value above the first box or below the last, centred over the
    /// side it belongs to.
    fn value(&self, pen: &mut Pen, result: &Result<String, Failure>, y: usize) {
        match result {
            Ok(_) => pen
                .screen
                .text(self.callback_x, y, &center(&shown(result), BOX_WIDTH)),
            Err(_) => {
                let text = center(&shown(result), BOX_WIDTH + 20);
                pen.screen.text(self.errback_x - 10, y, &text);
            }
        }
    }
}

// ANCHOR: firing
/// Fires a real Deferred whose stages are the user's, each wrapped so that
/// it draws its box (what it got, what it gave) when the Deferred runs it.
fn draw_firing(chain: &Chain, x: usize, y: usize, by_errback: bool) -> Screen {
    let columns = Columns::at(x);
    let pen = Rc::new(RefCell::new(Pen {
        screen: Screen::default(),
        last_x: x,
        next_y: y + 4,
    }));

    let (d, trigger) = deferred::<String>();
    let start = Rc::clone(&pen);
    let mut d = d.add_both(move |result| {
        let mut pen = start.borrow_mut();
        columns.value(&mut pen, &result, y);
        pen.last_x = if result.is_ok() {
            columns.callback_x
        } else {
            columns.errback_x
        };
        result
    });
    for (callback, errback) in &chain.pairs {
        let (on_value, on_failure) = (Rc::clone(&pen), Rc::clone(&pen));
        let (callback, errback) = (callback.clone(), errback.clone());
        d = d.add_callbacks(
            move |value| {
                draw_stage(
                    &on_value,
                    &columns,
                    columns.callback_x,
                    &callback,
                    Ok(value),
                )
            },
            move |failure| {
                draw_stage(
                    &on_failure,
                    &columns,
                    columns.errback_x,
                    &errback,
                    Err(failure),
                )
            },
        );
    }
    let end = Rc::clone(&pen);
    let _d = d.add_both(move |result| -> Result<(), Failure> {
        let mut pen = end.borrow_mut();
        let last = pen.next_y;
        columns.value(&mut pen, &result, last);
        let side = if result.is_ok() {
            columns.callback_x
        } else {
            columns.errback_x
        };
        columns.connect(&mut pen, side);
        Ok(())
    });

    if by_errback {
        trigger.errback(Failure::without_backtrace(Fails("initial".to_string())));
    } else {
        trigger.callback("initial".to_string());
    }
    pen.replace_with(|_| Pen::empty()).screen
}

/// One stage, run by the Deferred: draw its box with what it got and what
/// it gives, the arrow that led to it, and give its outcome back.
fn draw_stage(
    pen: &RefCell<Pen>,
    columns: &Columns,
    x: usize,
    stage: &Stage,
    input: Result<String, Failure>,
) -> Result<String, Failure> {
    let mut pen = pen.borrow_mut();
    let got = shown(&input);
    let output = stage.run(input);
    let y = pen.next_y;
    draw_box(&mut pen.screen, x, y);
    pen.screen.text(x + 1, y + 1, &center(&got, BOX_WIDTH - 2));
    pen.screen
        .text(x + 1, y + 3, &center(&shown(&output), BOX_WIDTH - 2));
    columns.connect(&mut pen, x);
    pen.last_x = x;
    pen.next_y += BOX_HEIGHT + GAP;
    output
}
// ANCHOR_END: firing

/// Copies `from` onto `to`, shifted right by `dx`: only the characters
/// `from` set, so that padding does not erase what is already there.
fn overlay(to: &mut Screen, from: &Screen, dx: usize) {
    for (y, row) in from.rows.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            if let Some(c) = c {
                to.put(x + dx, y, *c);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The two layouts.
// ---------------------------------------------------------------------------

const CALLBACK_TITLE: &str = "d.callback(initial)";
const ERRBACK_TITLE: &str = "d.errback(initial*)";

/// The chain and both firings side by side, with lines between them.
fn wide(chain: &Chain) -> String {
    let width = Chain::WIDTH;
    let column = width + 6;
    let mut screen = Screen::default();
    let titles = [
        ("Deferred", 0),
        (CALLBACK_TITLE, column),
        (ERRBACK_TITLE, 2 * column),
    ];
    for (title, x) in titles {
        screen.text(x, 0, &center(title, width));
        screen.text(x, 1, &center(&"-".repeat(title.len()), width));
    }
    chain.draw(&mut screen, 0, 7);
    overlay(&mut screen, &draw_firing(chain, column, 3, false), 0);
    overlay(&mut screen, &draw_firing(chain, 2 * column, 3, true), 0);
    screen.vertical(width + 3, 3, chain.fired_height(), false);
    screen.vertical(width + 3 + column, 3, chain.fired_height(), false);
    screen.render() + "\n"
}

/// The chain, then each firing, one below the other.
fn narrow(chain: &Chain) -> String {
    let width = Chain::WIDTH;
    let mut out = String::new();

    let mut screen = Screen::default();
    screen.text(0, 1, &center("Deferred", width));
    screen.text(0, 2, &center("--------", width));
    chain.draw(&mut screen, 0, 4);
    out += &(screen.render() + "\n");

    for (title, by_errback) in [(CALLBACK_TITLE, false), (ERRBACK_TITLE, true)] {
        let mut screen = Screen::default();
        screen.text(0, 2, &center(title, width));
        screen.text(0, 3, &center(&"-".repeat(title.len()), width));
        overlay(&mut screen, &draw_firing(chain, 0, 5, by_errback), 0);
        out += &(screen.render() + "\n");
    }
    out
}

// ---------------------------------------------------------------------------
// Reading the chain.
// ---------------------------------------------------------------------------

/// Reads one stage from the front of `words`.
fn parse_stage(words: &mut std::vec::IntoIter<&str>) -> Result<Stage, String> {
    let word = words.next().ok_or("missing command")?.to_lowercase();
    let command = ["return", "fail", "passthru"]
        .into_iter()
        .find(|command| command.starts_with(&word))
        .ok_or_else(|| format!("bad command: {}", excerpt(&word)))?;
    if command == "passthru" {
        return Ok(Stage::Passthru);
    }
    let value = words.next().ok_or("missing argument")?.to_string();
    if value.chars().count() > 6 {
        return Err(format!(
            "result more than 6 chars long: {}",
            excerpt(&value)
        ));
    }
    Ok(match command {
        "return" => Stage::Return(value),
        _ => Stage::Fail(value),
    })
}

/// Reads one line's pair. `Ok(None)` for the blank line that ends the list.
fn parse_pair(line: &str) -> Result<Option<(Stage, Stage)>, String> {
    if line.is_empty() {
        return Ok(None);
    }
    let mut words = line.split_whitespace().collect::<Vec<_>>().into_iter();
    let callback = parse_stage(&mut words)?;
    let errback = parse_stage(&mut words)?;
    if words.next().is_some() {
        return Err("extra arguments".to_string());
    }
    Ok(Some((callback, errback)))
}

/// Reads pairs until a blank line; `Ok(None)` if the input ends first.
fn read_chain(mut input: impl BufRead, out: &mut impl Write) -> io::Result<Option<Chain>> {
    let mut pairs = Vec::new();
    let mut bytes = Vec::new();
    loop {
        // Lines are read as bytes and decoded one by one, so that a line in
        // another encoding is one bad line, reported like any other,
        // rather than the end of the input.
        bytes.clear();
        if input.read_until(b'\n', &mut bytes)? == 0 {
            return Ok(None);
        }
        let parsed = match std::str::from_utf8(&bytes) {
            Ok(line) => parse_pair(line.trim_end_matches(['\n', '\r'])),
            Err(_) => Err("the line is not UTF-8 text".to_string()),
        };
        match parsed {
            Ok(Some(pair)) => pairs.push(pair),
            Ok(None) if pairs.is_empty() => writeln!(out, "You must enter at least one pair.")?,
            Ok(None) => return Ok(Some(Chain { pairs })),
            Err(message) => writeln!(out, "ERROR: {message}")?,
        }
        out.flush()?;
    }
}

// ANCHOR: main
fn main() {
    mini_twisted::log::init();
    let options = Options::parse();
    if !options.extra.is_empty() {
        Options::command()
            .error(ErrorKind::UnknownArgument, "No arguments supported.")
            .exit();
    }
    let mut out = io::stdout().lock();
    let drawn = writeln!(out, "{INSTRUCTIONS}")
        .and_then(|()| read_chain(io::stdin().lock(), &mut out))
        .and_then(|chain| match chain {
            Some(chain) if options.narrow => write!(out, "{}", narrow(&chain)),
            Some(chain) => write!(out, "{}", wide(&chain)),
            // The input ended before a blank line: nothing to draw.
            None => Ok(()),
        });
    match drawn {
        // Nobody is reading any more (`| head`): nothing left to do.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {}
        Err(error) => {
            eprintln!("deferred-simulator: {error}");
            std::process::exit(1);
        }
        Ok(()) => {}
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centring_follows_the_series_rule() {
        assert_eq!(center("initial", 16), "    initial     ");
        assert_eq!(center("ab", 5), "  ab ");
        assert_eq!(center("abc", 6), " abc  ");
    }
}
