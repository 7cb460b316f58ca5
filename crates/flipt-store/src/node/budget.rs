//! Counting the nodes a YAML stream expands to without building it.
//!
//! Every scalar and collection counts one; an alias counts the size of the
//! node it repeats, which was measured when that node ended (the nodes
//! counted between its start and end events). Memory is one number per
//! anchor plus one per open collection, whatever the expansion.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

use super::SyntaxError;
use crate::limits::FileLimits;

/// Fails at the first event that takes the expanded count past
/// `max_nodes`, or the nodes added by aliases past `max_alias_nodes`,
/// naming its line. Syntax errors are left to the real parse.
pub(crate) fn check_node_budget(text: &str, limits: &FileLimits) -> Result<(), SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut total: u64 = 0;
    let mut aliased: u64 = 0;
    // Count at each open collection's start, with its anchor.
    let mut open: Vec<(u64, usize)> = Vec::new();
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    loop {
        let Ok((event, mark)) = parser.next_token() else {
            return Ok(());
        };
        let added = match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(_, _, anchor, _) => {
                if anchor > 0 {
                    anchors.insert(anchor, 1);
                }
                1
            }
            Event::Alias(id) => {
                let size = anchors.get(&id).copied().unwrap_or(1);
                aliased = aliased.saturating_add(size);
                if aliased > limits.max_alias_nodes {
                    return Err(SyntaxError {
                        line: mark.line(),
                        message: format!(
                            "aliases repeat more than {} YAML nodes \
                             (storage.local.max_alias_nodes), counting each alias \
                             at the size of what it repeats",
                            limits.max_alias_nodes
                        ),
                    });
                }
                size
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((total, anchor));
                1
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((start, anchor)) = open.pop()
                    && anchor > 0
                {
                    anchors.insert(anchor, total - start);
                }
                0
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => 0,
        };
        total = total.saturating_add(added);
        if total > limits.max_nodes {
            return Err(SyntaxError {
                line: mark.line(),
                message: format!(
                    "the file expands to more than {} YAML nodes \
                     (storage.local.max_nodes), counting each alias at the size \
                     of what it repeats",
                    limits.max_nodes
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_nodes: u64, max_alias_nodes: u64) -> FileLimits {
        FileLimits {
            max_nodes,
            max_alias_nodes,
            ..FileLimits::default()
        }
    }

    #[test]
    fn counts_aliases_at_their_expanded_size() {
        let text = "a: &x [1, 2, 3]\nb: *x\nc: *x\n";
        // root 1, keys 3, seq 4, two aliases 4 each: 1 + 3 + 4 + 8 = 16.
        assert!(check_node_budget(text, &limits(16, 8)).is_ok());
        let err = check_node_budget(text, &limits(15, 8)).expect_err("over budget");
        assert_eq!(err.line, 3);
        assert!(
            err.message.contains("storage.local.max_nodes"),
            "{}",
            err.message
        );
        let err = check_node_budget(text, &limits(16, 7)).expect_err("over alias budget");
        assert_eq!(err.line, 3);
        assert!(
            err.message.contains("storage.local.max_alias_nodes"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_billion_laughs_is_stopped_early() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names: Vec<char> = ('b'..='j').collect();
        let mut previous = 'a';
        for name in names {
            let refs = vec![format!("*{previous}"); 9].join(",");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
            previous = name;
        }
        let err = check_node_budget(&text, &FileLimits::default()).expect_err("bomb");
        assert!(err.line <= 8, "stopped at line {}", err.line);
    }
}
