//! Deletes the topics a test or a benchmark made. Each makes its own under a random prefix and
//! the services never delete one, so on a development machine they piled up: about 3,300
//! partitions and 7.5 GB of the local broker's disk after two days of benchmarks and tests
//! (the broker keeps a week), every one of them in each metadata answer and each broker start.

use std::time::Duration;

use ioc_kafka::KafkaConfig;
use rdkafka::admin::AdminOptions;

/// Deletes every topic named `{prefix}.…` on `kafka`'s brokers (`prefix` is
/// `kafka.topic_prefix`); returns how many there were. An empty prefix is refused.
pub async fn delete_topics_of(kafka: &KafkaConfig) -> anyhow::Result<usize> {
    anyhow::ensure!(!kafka.topic_prefix.is_empty(), "refusing to delete topics without a prefix");
    let admin = kafka.admin()?;
    let prefix = format!("{}.", kafka.topic_prefix);
    // librdkafka's metadata call blocks: off the runtime's threads.
    let (admin, names) = tokio::task::spawn_blocking(move || {
        let names: anyhow::Result<Vec<String>> = admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|metadata| {
                metadata.topics().iter().map(|t| t.name().to_owned()).filter(|name| name.starts_with(&prefix)).collect()
            })
            .map_err(Into::into);
        (admin, names)
    })
    .await?;
    let names = names?;
    if names.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.delete_topics(&refs, &options).await? {
        if let Err((topic, code)) = result {
            anyhow::bail!("deleting topic {topic}: {code}");
        }
    }
    Ok(names.len())
}

/// [`delete_topics_of`] at a test's or benchmark's end: a failure is said, not raised (the
/// topics are left for the broker's retention, as before).
pub async fn clean_up_topics_of(kafka: &KafkaConfig) {
    if let Err(error) = delete_topics_of(kafka).await {
        eprintln!("could not delete the topics {}.*: {error:#}", kafka.topic_prefix);
    }
}
