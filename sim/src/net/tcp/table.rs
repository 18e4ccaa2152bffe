//! [`TcpTable`]: the world's TCP sockets, kept node by node.
//!
//! Every poll of a node's stack settles that node's sockets, and every
//! segment it sends is matched against them to find its owner: with 1,000
//! clients on one server, a walk over the whole world's sockets (or a
//! lookup by number for each of the node's) was most of the simulation's
//! time. Here a node's sockets sit together, in number order, so those
//! walks touch only the node's own and visit them in the same order as a
//! walk over the world's would. Everything is a `BTreeMap`, so no walk
//! depends on a hash.

use std::collections::BTreeMap;

use super::TcpEntry;

/// Live TCP sockets (and closed ones still finishing), by node and number.
#[derive(Default)]
pub(crate) struct TcpTable {
    /// Each node's sockets by number: what a node's walks go over.
    by_node: BTreeMap<usize, BTreeMap<u64, TcpEntry>>,
    /// Each socket's node: how a socket is found by its number alone (the
    /// guest's calls name only the number).
    node_of: BTreeMap<u64, usize>,
}

impl TcpTable {
    /// Adds socket `id` (a number not in use) on `entry.node`.
    pub(crate) fn insert(&mut self, id: u64, entry: TcpEntry) {
        self.node_of.insert(id, entry.node);
        self.by_node
            .entry(entry.node)
            .or_default()
            .insert(id, entry);
    }

    /// Socket `id`, to change, if it is still there.
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut TcpEntry> {
        self.by_node.get_mut(self.node_of.get(&id)?)?.get_mut(&id)
    }

    /// Forgets socket `id`.
    pub(crate) fn remove(&mut self, id: u64) {
        if let Some(node) = self.node_of.remove(&id)
            && let Some(sockets) = self.by_node.get_mut(&node)
        {
            sockets.remove(&id);
        }
    }

    /// `node`'s sockets, by ascending number.
    pub(crate) fn on(&self, node: usize) -> impl Iterator<Item = (u64, &TcpEntry)> {
        self.by_node
            .get(&node)
            .into_iter()
            .flat_map(|sockets| sockets.iter().map(|(&id, s)| (id, s)))
    }

    /// `node`'s sockets, to change, by ascending number.
    pub(crate) fn on_mut(&mut self, node: usize) -> impl Iterator<Item = (u64, &mut TcpEntry)> {
        self.by_node
            .get_mut(&node)
            .into_iter()
            .flat_map(|sockets| sockets.iter_mut().map(|(&id, s)| (id, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_sockets_come_in_number_order_and_alone() {
        let mut table = TcpTable::default();
        for (id, node) in [(1, 0), (2, 1), (3, 0), (5, 1), (8, 0)] {
            table.insert(id, TcpEntry::new(node, false));
        }
        let ids = |t: &TcpTable, node| t.on(node).map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(
            (ids(&table, 0), ids(&table, 1)),
            (vec![1, 3, 8], vec![2, 5])
        );
        table.remove(3);
        table.remove(3);
        assert_eq!(ids(&table, 0), vec![1, 8]);
        assert!(table.get_mut(3).is_none() && table.get_mut(8).is_some());
        assert_eq!(table.get_mut(5).map(|s| s.node), Some(1));
        assert_eq!(ids(&table, 7), Vec::<u64>::new());
    }
}
