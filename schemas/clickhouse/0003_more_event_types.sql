-- Columns for the event types added in contract v1's second round: payments and ratings of
-- dossiers, documents sent and received, completed courses and classes held. Existing rows get
-- the column defaults (empty string, 0), which is what those event types never carry.

ALTER TABLE portal_events ADD COLUMN payment_method String AFTER components_reused;
ALTER TABLE portal_events ADD COLUMN amount_vnd UInt64 AFTER payment_method;
ALTER TABLE portal_events ADD COLUMN satisfaction String AFTER amount_vnd;

ALTER TABLE edoc_events ADD COLUMN document_id String AFTER processed_online;
ALTER TABLE edoc_events ADD COLUMN form String AFTER document_id;
ALTER TABLE edoc_events ADD COLUMN digitally_signed UInt8 AFTER form;

ALTER TABLE training_events ADD COLUMN course_code String AFTER citizen_ref;
ALTER TABLE training_events ADD COLUMN class_id String AFTER course_code;
ALTER TABLE training_events ADD COLUMN topic String AFTER class_id;
ALTER TABLE training_events ADD COLUMN attendees UInt32 AFTER topic;
