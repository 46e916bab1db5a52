//! Background tasks a service cannot do without: the processor's rollup and monitor, the API's
//! answer-cache watcher. Each runs until the shutdown. One that ended before it, by a panic or
//! by a return no one planned for, would leave the service up and ready while its numbers stop
//! moving: the dashboard frozen at the last rollup cycle, answers kept past the rollups'
//! progress, lag and completeness gauges stuck at their last reading. No probe sees that.
//! So the service counts such an end as its own failure and exits with an error: Kubernetes
//! restarts it, and the restart shows in the pod's restart count and the logs.

use tokio::task::JoinHandle;

/// A task that had to run until the shutdown ended before it.
#[derive(Debug, thiserror::Error)]
#[error("the {task} task {how} before the shutdown; the service stops so that it is restarted")]
pub struct TaskEnded {
    task: &'static str,
    how: String,
}

/// Resolves when `task` ends, with what ended it; never resolves for `None` (the task is off)
/// or while the task runs. Meant for one branch of the `select!` that waits for the shutdown.
pub async fn ended_early(name: &'static str, task: Option<&mut JoinHandle<()>>) -> TaskEnded {
    let Some(task) = task else { return std::future::pending().await };
    let how = match task.await {
        Ok(()) => "returned".to_owned(),
        Err(error) if error.is_panic() => {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a value that is not text".to_owned());
            format!("panicked ({message})")
        }
        Err(_) => "was cancelled".to_owned(),
    };
    TaskEnded { task: name, how }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_panic_ends_the_wait_with_the_task_and_its_message() {
        let mut task = tokio::spawn(async { panic!("the cycle's state is broken") });
        let ended = ended_early("rollup", Some(&mut task)).await;
        assert_eq!(
            ended.to_string(),
            "the rollup task panicked (the cycle's state is broken) before the shutdown; the service stops so that it is restarted"
        );
    }

    #[tokio::test]
    async fn a_formatted_panic_message_is_kept_too() {
        let cycle = 7;
        let mut task = tokio::spawn(async move { panic!("cycle {cycle} broke") });
        assert!(ended_early("monitor", Some(&mut task)).await.to_string().contains("panicked (cycle 7 broke)"));
    }

    #[tokio::test]
    async fn a_return_ends_the_wait_too() {
        let mut task = tokio::spawn(async {});
        assert!(ended_early("answer-cache watcher", Some(&mut task))
            .await
            .to_string()
            .contains("watcher task returned"));
    }

    #[tokio::test]
    async fn a_running_task_or_none_keeps_the_wait_open() {
        let mut running = tokio::spawn(std::future::pending::<()>());
        let waited = tokio::time::timeout(Duration::from_millis(200), ended_early("rollup", Some(&mut running))).await;
        assert!(waited.is_err(), "ended while the task still ran");
        let waited = tokio::time::timeout(Duration::from_millis(200), ended_early("monitor", None)).await;
        assert!(waited.is_err(), "ended with no task");
        running.abort();
    }
}
