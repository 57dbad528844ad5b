//! What the test files share: a store whose fetch the test writes.

use exampledb::bytes::Bytes;
use exampledb::ExampleDatabase;

/// A store whose fetch runs `fetch`; saves and deletes keep nothing, it lists no keys and
/// has no change events. For stores that misbehave in one way.
pub struct FetchOnly<F>(pub F);

impl<F> std::fmt::Debug for FetchOnly<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FetchOnly")
    }
}

#[exampledb::async_trait]
impl<F: Fn(&[u8]) -> Vec<Bytes> + Send + Sync> ExampleDatabase for FetchOnly<F> {
    async fn save(&self, _: &[u8], _: &[u8]) -> exampledb::Result<()> {
        Ok(())
    }
    async fn fetch(&self, key: &[u8]) -> exampledb::Result<Vec<Bytes>> {
        Ok((self.0)(key))
    }
    async fn delete(&self, _: &[u8], _: &[u8]) -> exampledb::Result<()> {
        Ok(())
    }
    async fn keys(&self) -> exampledb::Result<Vec<Bytes>> {
        Ok(Vec::new())
    }
    fn subscribe(&self) -> exampledb::Result<exampledb::ChangeStream> {
        Err(exampledb::Error::NotSupported {
            backend: "fetch-only",
            operation: exampledb::Operation::Subscribe,
        })
    }
}
