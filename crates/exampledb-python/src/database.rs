//! `exampledb._native.Database`: one exampledb database, called from Python.
//!
//! The pure-Python classes of the `exampledb` package (subclasses of Hypothesis's
//! `ExampleDatabase`) hold one of these. Every method releases the GIL while it waits.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use exampledb::dynamodb::DynamoDatabaseBuilder;
use exampledb::ExampleDatabase;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::runtime;
use crate::spec::{Options, Spec};
use crate::subscription::Subscription;

/// An exampledb database, opened in this process from its [`Spec`].
#[pyclass(frozen, module = "exampledb._native", name = "Database")]
#[derive(Debug)]
pub(crate) struct Database {
    handle: Arc<Handle>,
}

/// A database's settings and what each process opened from them; shared with the
/// wrappers (multiplexed, read-only) built on it, so that they use the same instance.
#[derive(Debug)]
pub(crate) struct Handle {
    spec: Spec,
    opened: Mutex<Option<Opened>>,
}

/// The database as opened by one process.
#[derive(Debug)]
struct Opened {
    pid: runtime::Process,
    db: Arc<dyn ExampleDatabase>,
}

impl Handle {
    /// The settings.
    pub(crate) fn spec(&self) -> &Spec {
        &self.spec
    }

    /// This process's copy of the database, opened on first use in each process. A copy
    /// inherited through `fork` is never used, nor dropped: its connections belong to the
    /// parent (an in-memory database, which has none, is kept: the child has a copy of
    /// the parent's values, as with Hypothesis's).
    pub(crate) fn db(&self) -> PyResult<Arc<dyn ExampleDatabase>> {
        let mut slot = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = runtime::process();
        if let Some(opened) = slot.as_mut() {
            if opened.pid == pid {
                return Ok(Arc::clone(&opened.db));
            }
            if self.spec.survives_fork() {
                opened.pid = pid;
                return Ok(Arc::clone(&opened.db));
            }
        }
        if let Some(inherited) = slot.take() {
            std::mem::forget(inherited);
        }
        let db = runtime::enter(|| self.spec.open())?;
        *slot = Some(Opened {
            pid,
            db: Arc::clone(&db),
        });
        Ok(db)
    }
}

impl Database {
    /// Opens `spec` in this process now, so that a bad configuration fails here.
    fn new(spec: Spec) -> PyResult<Self> {
        let handle = Arc::new(Handle {
            spec,
            opened: Mutex::new(None),
        });
        handle.db()?;
        Ok(Self { handle })
    }

    fn db(&self) -> PyResult<Arc<dyn ExampleDatabase>> {
        self.handle.db()
    }

    fn spec(&self) -> &Spec {
        &self.handle.spec
    }
}

fn bytes_list<'py>(py: Python<'py>, values: Vec<bytes::Bytes>) -> Vec<Bound<'py, PyBytes>> {
    values.iter().map(|v| PyBytes::new(py, v)).collect()
}

#[pymethods]
impl Database {
    /// Anything `exampledb.open` takes, with options as (name, value) strings.
    #[staticmethod]
    fn open(url: &str, options: Options) -> PyResult<Self> {
        let trimmed = url.trim();
        if !trimmed.is_empty() && !trimmed.contains([':', exampledb::MEMBER_SEPARATOR]) {
            // A plain path, as the facade takes it: the same database as
            // `DirectoryDatabase(path)`, and equal to it.
            return Self::directory(PathBuf::from(trimmed), options);
        }
        Self::new(Spec::url(url.to_owned(), options))
    }

    /// A directory database at `path` (made absolute), taken literally.
    #[staticmethod]
    fn directory(path: PathBuf, options: Options) -> PyResult<Self> {
        // Absolute, and spelled one way (no trailing `/`, no `.` parts), so that one
        // directory makes equal databases however it was written.
        let path: PathBuf = std::path::absolute(&path)
            .unwrap_or(path)
            .components()
            .collect();
        Self::new(Spec::Directory { path, options })
    }

    /// The members multiplexed: writes go to each, fetches see all.
    #[staticmethod]
    fn multiplexed(members: Vec<Bound<'_, Database>>) -> PyResult<Self> {
        let handles = members
            .iter()
            .map(|m| Arc::clone(&m.get().handle))
            .collect();
        Self::new(Spec::Multiplexed(handles))
    }

    /// `inner` with writes turned into no-ops.
    #[staticmethod]
    fn read_only(inner: Bound<'_, Database>) -> PyResult<Self> {
        Self::new(Spec::ReadOnly(Arc::clone(&inner.get().handle)))
    }

    /// Adds `value` to `key`'s set.
    fn save(&self, py: Python<'_>, key: &[u8], value: &[u8]) -> PyResult<()> {
        let db = self.db()?;
        runtime::run(py, || async move { db.save(key, value).await })
    }

    /// Every value under `key`.
    fn fetch<'py>(&self, py: Python<'py>, key: &[u8]) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let db = self.db()?;
        let values = runtime::run(py, || async move { db.fetch(key).await })?;
        Ok(bytes_list(py, values))
    }

    /// Removes `value` from `key`'s set.
    fn delete(&self, py: Python<'_>, key: &[u8], value: &[u8]) -> PyResult<()> {
        let db = self.db()?;
        runtime::run(py, || async move { db.delete(key, value).await })
    }

    /// Moves `value` from `src` to `dest` (a save when they are equal).
    #[pyo3(name = "move")]
    fn move_value(&self, py: Python<'_>, src: &[u8], dest: &[u8], value: &[u8]) -> PyResult<()> {
        let db = self.db()?;
        runtime::run(py, || async move { db.move_value(src, dest, value).await })
    }

    /// Every key holding a value, where the store can list them.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let db = self.db()?;
        let keys = runtime::run(py, || async move { db.keys().await })?;
        Ok(bytes_list(py, keys))
    }

    /// Raises what is wrong if the store cannot be used now.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        let db = self.db()?;
        runtime::run(py, || async move { db.check().await })
    }

    /// Creates the DynamoDB table this database names if it does not exist, as the
    /// database needs it, or says how an existing one differs.
    fn ensure_table(&self, py: Python<'_>) -> PyResult<()> {
        let Spec::Url { url, options, .. } = self.spec() else {
            return Err(PyTypeError::new_err(
                "ensure_table is for DynamoDB databases",
            ));
        };
        if self.spec().class_name() != "DynamoDBDatabase" {
            return Err(PyTypeError::new_err(
                "ensure_table is for DynamoDB databases",
            ));
        }
        let db = runtime::enter(|| {
            let built = (|| {
                let mut builder = DynamoDatabaseBuilder::from_env().with_url(url)?;
                for (k, v) in options {
                    builder = builder.with_option(k, v)?;
                }
                builder.build()
            })();
            built.map_err(|e| Python::attach(|py| crate::errors::to_py(py, &e)))
        })?;
        runtime::run(py, || async move { db.ensure_table().await })
    }

    /// Starts listening. With `wait` (seconds), returns only once every later change will
    /// be reported, or raises after that long.
    #[pyo3(signature = (wait=None))]
    fn subscribe(&self, py: Python<'_>, wait: Option<f64>) -> PyResult<Subscription> {
        let db = self.db()?;
        let wait = wait
            .map(|w| Duration::try_from_secs_f64(w.max(0.0)))
            .transpose()
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("wait: {e}")))?;
        let stream = runtime::run(py, || async move {
            match wait {
                Some(wait) => db.subscribe_ready(wait).await,
                None => db.subscribe(),
            }
        })?;
        Subscription::start(stream)
    }

    /// A digest of everything that makes two databases the same (secrets included, but
    /// never readable from it).
    fn identity<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.spec().identity())
    }

    /// The arguments that would make this database again, without secrets.
    fn describe(&self) -> String {
        self.spec().describe()
    }

    /// The `exampledb` class standing for this database.
    #[getter]
    fn class_name(&self) -> &'static str {
        self.spec().class_name()
    }

    fn __repr__(&self) -> String {
        format!(
            "<exampledb._native.Database {}>",
            self.spec().describe_wrapped()
        )
    }
}
