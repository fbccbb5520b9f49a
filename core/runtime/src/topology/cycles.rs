//! Cycles in the handler port routes: a message that can come back to where it started
//! may circulate forever, so a topology with one is refused.
//!
//! A depth-first search over handlers (in file order, edges in route order); each edge
//! that reaches a handler still on the search stack closes a cycle, reported at that
//! route with the whole path (`a -> b -> a`).

use std::ops::Range;

/// One cycle: the handlers on it (first repeated at the end) and the route closing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    pub path: Vec<usize>,
    pub closing: Option<Range<usize>>,
}

/// Every cycle closed by a back edge in a search over `nodes` handlers.
pub(crate) fn find(nodes: usize, edges: &[(usize, usize, Option<Range<usize>>)]) -> Vec<Cycle> {
    let mut adjacent: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for (i, (from, _, _)) in edges.iter().enumerate() {
        adjacent[*from].push(i);
    }
    let mut search = Search {
        edges,
        adjacent,
        state: vec![State::New; nodes],
        stack: Vec::new(),
        found: Vec::new(),
    };
    for start in 0..nodes {
        if search.state[start] == State::New {
            search.visit(start);
        }
    }
    search.found
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    OnStack,
    Done,
}

struct Search<'e> {
    edges: &'e [(usize, usize, Option<Range<usize>>)],
    adjacent: Vec<Vec<usize>>,
    state: Vec<State>,
    stack: Vec<usize>,
    found: Vec<Cycle>,
}

impl Search<'_> {
    /// Recursive: topologies have a handful of handlers, never deep enough to matter.
    fn visit(&mut self, node: usize) {
        self.state[node] = State::OnStack;
        self.stack.push(node);
        for k in 0..self.adjacent[node].len() {
            let (_, to, span) = &self.edges[self.adjacent[node][k]];
            match self.state[*to] {
                State::New => self.visit(*to),
                State::OnStack => {
                    let at = self.stack.iter().position(|n| n == to).unwrap_or(0);
                    let mut path = self.stack[at..].to_vec();
                    path.push(*to);
                    self.found.push(Cycle {
                        path,
                        closing: span.clone(),
                    });
                }
                State::Done => {}
            }
        }
        self.stack.pop();
        self.state[node] = State::Done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[(usize, usize)]) -> Vec<(usize, usize, Option<Range<usize>>)> {
        list.iter()
            .enumerate()
            .map(|(i, &(a, b))| (a, b, Some(i..i + 1)))
            .collect()
    }

    #[test]
    fn a_chain_has_no_cycle() {
        assert!(find(3, &edges(&[(0, 1), (1, 2), (0, 2)])).is_empty());
    }

    #[test]
    fn a_loop_is_reported_with_its_path_and_closing_route() {
        let found = find(3, &edges(&[(0, 1), (1, 2), (2, 1)]));
        assert_eq!(
            found,
            vec![Cycle {
                path: vec![1, 2, 1],
                closing: Some(2..3)
            }]
        );
    }

    #[test]
    fn a_self_loop_is_a_cycle() {
        let found = find(2, &edges(&[(1, 1)]));
        assert_eq!(
            found,
            vec![Cycle {
                path: vec![1, 1],
                closing: Some(0..1)
            }]
        );
    }

    #[test]
    fn two_separate_cycles_are_both_found() {
        let found = find(4, &edges(&[(0, 1), (1, 0), (2, 3), (3, 2)]));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].path, vec![0, 1, 0]);
        assert_eq!(found[1].path, vec![2, 3, 2]);
    }
}
