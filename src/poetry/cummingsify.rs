//! The cummingsifier of Part 10: a poem transformer that works only some of
//! the time, so that the clients have failures to route.
//!
//! It stands in for any real service that can fail: asked to transform a
//! poem, it picks one of three outcomes with equal chance. The choice comes
//! from a random generator that a `--seed` makes repeatable.

use std::error::Error;
use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The poem came out as nonsense: there is no poem to show.
#[derive(Debug)]
pub struct GibberishError;

impl fmt::Display for GibberishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the cummingsifier produced gibberish")
    }
}

impl Error for GibberishError {}

/// The cummingsifier broke down, for a reason that has nothing to do with
/// the poem (client 5.0's "any other error").
#[derive(Debug)]
pub struct CummingsifierBroke;

impl fmt::Display for CummingsifierBroke {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the cummingsifier broke down")
    }
}

impl Error for CummingsifierBroke {}

/// The cummingsifier could not do it, and hands back the poem it was given
/// (client 5.1), so that an errback can carry on with the original.
#[derive(Debug)]
pub struct CannotCummingsify(pub String);

impl fmt::Display for CannotCummingsify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot cummingsify a poem of {} bytes", self.0.len())
    }
}

impl Error for CannotCummingsify {}

/// One of the three things the cummingsifier can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It works: the poem in lower case.
    LowerCase,
    /// It fails with [`GibberishError`].
    Gibberish,
    /// It fails some other way.
    Broken,
}

/// The random choice between the three outcomes.
pub struct Cummingsifier {
    rng: StdRng,
}

impl Cummingsifier {
    /// Repeatable with `Some(seed)`; different every run with `None`.
    pub fn new(seed: Option<u64>) -> Cummingsifier {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Cummingsifier { rng }
    }

    /// Picks the next outcome, each with a chance of one in three.
    pub fn next_outcome(&mut self) -> Outcome {
        match self.rng.random_range(0..3) {
            0 => Outcome::LowerCase,
            1 => Outcome::Gibberish,
            _ => Outcome::Broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_the_choices_and_all_three_come_up() {
        let draw = |seed| {
            let mut c = Cummingsifier::new(Some(seed));
            (0..30).map(|_| c.next_outcome()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let outcomes = draw(7);
        for outcome in [Outcome::LowerCase, Outcome::Gibberish, Outcome::Broken] {
            assert!(outcomes.contains(&outcome));
        }
    }
}
