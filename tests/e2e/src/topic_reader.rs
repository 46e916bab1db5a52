//! Reads what a test's topic holds: its first messages, and their headers as text.

use std::time::Duration;

use ioc_kafka::KafkaConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::Message;

/// The first `count` messages of `topic`, from its start, by a consumer group of their own, in
/// the order they come (each partition's in order, the partitions interleaved); panics when one
/// takes more than 30 s, saying how many came.
pub async fn first_messages(kafka: &KafkaConfig, topic: &str, count: usize) -> Vec<OwnedMessage> {
    let consumer: StreamConsumer = kafka.consumer(&crate::random_name("g")).expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut messages = Vec::with_capacity(count);
    while messages.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{count} messages of {topic} within 30 s each; {} came", messages.len()))
            .expect("message");
        messages.push(message.detach());
    }
    messages
}

/// A header of `message`, as text.
pub fn header(message: &OwnedMessage, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers.iter().find(|h| h.key == name).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
}
