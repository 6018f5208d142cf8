DROP TABLE changes;
DROP TABLE facts;
DROP TABLE revisions;
DROP TABLE castellan_head;
